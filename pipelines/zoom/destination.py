"""dlt's ``duckdb`` destination with one change: a merge table marked ``x-merge-in-place`` is merged
file by file straight into its final table, without dlt's staging copy.

Why: dlt merges (``delete-insert``) by loading every file of the package into a staging dataset,
then, once all of them are in, deleting the staged keys from the final table and copying the staged
rows over. For ``participant_qos`` (125 text columns, a million rows a hospital day) that
is the widest table written twice: about half of the load step (``bench/load_scale.py``).

What a marked table gets instead, per Parquet file of the package, in **one transaction**::

    DELETE FROM <table> AS d
     WHERE d.<range> BETWEEN <file's min> AND <file's max>                  -- optional, see below
       AND EXISTS (SELECT 1 FROM read_parquet(<file>) AS s WHERE d.<key> = s.<key> AND ...);
    INSERT INTO <table> BY NAME SELECT * FROM read_parquet(<file>);

which is dlt's own delete-insert (the same ``EXISTS`` on the primary key) done for the file's rows:

* re-loaded keys replace the earlier rows, keys not in the file are kept (as dlt's merge);
* a job interrupted before its commit changed nothing, and a job that is run again (dlt resumes the
  package's unfinished jobs on the next run, or repeats one whose completion it had not recorded)
  deletes the rows it inserted before and inserts them again: no duplicates, nothing lost;
* a key repeated in two files of one package (the source hands each key over once per load, see
  ``x-stage-data-deduplicated``) would end as the later file's row instead of an arbitrary one.

``x-merge-in-place-range`` names a key column whose range bounds the delete: DuckDB then skips the
row groups of older loads by their min/max (zone maps), so the delete reads the recent part of the
table instead of all of its history. It only narrows which rows are compared: a row outside the
file's range cannot have one of its keys.

Only a root table without nested tables, merged ``delete-insert`` on a primary key (no merge key,
hard delete or dedup sort), from Parquet files, takes this path; any other table (and every table on
another destination, such as the lake's ``ducklake``) is merged by dlt as usual.
"""

from __future__ import annotations

from typing import Any

from dlt.common.destination.client import HasFollowupJobs, LoadJob, RunnableLoadJob
from dlt.common.schema.utils import get_columns_names_with_prop, get_nested_tables
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations.impl.duckdb.duck import DuckDbClient
from dlt.destinations.impl.duckdb.factory import duckdb as _duckdb_factory

IN_PLACE_HINT = "x-merge-in-place"
RANGE_HINT = "x-merge-in-place-range"


def merges_in_place(table: Any, schema: Any) -> bool:
    """Whether ``table`` (a prepared load table) is merged file by file into its final table."""
    if table.get("write_disposition") != "merge" or not table.get(IN_PLACE_HINT):
        return False
    if table.get("x-merge-strategy", "delete-insert") != "delete-insert":
        return False
    if not get_columns_names_with_prop(table, "primary_key"):
        return False
    for prop in ("merge_key", "hard_delete", "dedup_sort"):
        if get_columns_names_with_prop(table, prop):
            return False
    return len(get_nested_tables(schema.tables, table["name"])) == 1


class InPlaceMergeJob(RunnableLoadJob, HasFollowupJobs):
    """One Parquet file merged into the final table: delete its keys, insert its rows, one transaction."""

    def __init__(self, file_path: str) -> None:
        super().__init__(file_path)
        self._job_client: InPlaceMergeDuckDbClient = None  # type: ignore[assignment]

    def run(self) -> None:
        sql = self._job_client.sql_client
        table = self._load_table
        target = sql.make_qualified_table_name(self.load_table_name)
        source = f"read_parquet({sql.capabilities.escape_literal(self._file_path)})"
        esc = sql.escape_column_name
        keys = [esc(c) for c in get_columns_names_with_prop(table, "primary_key")]
        match = " AND ".join(f"d.{k} = s.{k}" for k in keys)
        literal = sql.capabilities.escape_literal
        with sql.begin_transaction():
            bound = ""
            range_column = table.get(RANGE_HINT)
            if range_column:
                column = esc(range_column)
                lo, hi = sql.execute_sql(f"SELECT min({column}), max({column}) FROM {source}")[0]
                if lo is None:  # an empty file: nothing to replace, nothing to insert
                    return
                # literals, not parameters: a constant filter is what DuckDB checks against zone maps
                bound = f"d.{column} BETWEEN {literal(lo)} AND {literal(hi)} AND "
            sql.execute_sql(
                f"DELETE FROM {target} AS d WHERE {bound}EXISTS (SELECT 1 FROM {source} AS s WHERE {match})"
            )
            sql.execute_sql(f"INSERT INTO {target} BY NAME SELECT * FROM {source}")


class InPlaceMergeDuckDbClient(DuckDbClient):
    """dlt's DuckDB client; tables marked ``x-merge-in-place`` skip the staging dataset (see module)."""

    def _in_place(self, table: Any) -> bool:
        return merges_in_place(table, self.schema)

    def should_load_data_to_staging_dataset(self, table_name: str) -> bool:
        if self._in_place(self.prepare_load_table(table_name)):
            return False
        return super().should_load_data_to_staging_dataset(table_name)

    def create_load_job(self, table: Any, file_path: str, load_id: str, restore: bool = False) -> LoadJob:
        if self._in_place(table) and ParsedLoadJobFileName.parse(file_path).file_format == "parquet":
            return InPlaceMergeJob(file_path)
        return super().create_load_job(table, file_path, load_id, restore)

    def _create_merge_followup_jobs(self, table_chain: Any) -> list[Any]:
        if self._in_place(table_chain[0]):
            return []
        return super()._create_merge_followup_jobs(table_chain)


class duckdb_in_place(_duckdb_factory):  # named like dlt's destination factories
    """dlt's ``duckdb`` destination factory with :class:`InPlaceMergeDuckDbClient`."""

    @property
    def client_class(self) -> type[DuckDbClient]:
        return InPlaceMergeDuckDbClient

    @property
    def destination_type(self) -> str:  # what the pipeline's state records: dlt's duckdb
        return "dlt.destinations.duckdb"
