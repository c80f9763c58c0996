{#-
  A staging model over one table the loader wrote: the columns named in `columns` typed, every
  other loaded column (custom fields, nested objects and lists) kept as loaded, the loader's
  _sdc_ columns left out, and rows the loader marked deleted (_sdc_deleted_at set) left out.
  A named column the table lacks (an older load, another account) is a null of its type.

  columns: {name: kind}, kind one of id (bigint), text, number (double), boolean, timestamp,
  date (from a date or a YYYY-MM-DD text).
-#}
{% macro pipedrive_staging(table, columns) -%}
{%- set relation = source('pipedrive', table) -%}
{%- set loaded = [] -%}
{%- if execute -%}
  {%- for column in adapter.get_columns_in_relation(relation) -%}
    {%- do loaded.append(column.name | lower) -%}
  {%- endfor -%}
{%- endif -%}
{%- set kept = [] -%}
{%- for name in loaded if name not in columns and not name.startswith('_sdc_') -%}
  {%- do kept.append(name) -%}
{%- endfor -%}
select
{%- for name, kind in columns.items() %}
    {{ pipedrive_typed(name, kind, loaded) }} as {{ adapter.quote(name) }}
    {%- if not loop.last or kept %},{% endif %}
{%- endfor %}
{%- for name in kept %}
    {{ adapter.quote(name) }}{% if not loop.last %},{% endif %}
{%- endfor %}
from {{ relation }}
{%- if '_sdc_deleted_at' in loaded %}
where _sdc_deleted_at is null
{%- endif %}
{%- endmacro %}


{% macro pipedrive_type(kind) -%}
  {%- if kind == 'id' -%} {{ dbt.type_bigint() }}
  {%- elif kind == 'text' -%} {{ dbt.type_string() }}
  {%- elif kind == 'number' -%} {{ pipedrive_double() }}
  {%- elif kind == 'boolean' -%} {{ dbt.type_boolean() }}
  {%- elif kind == 'timestamp' -%} {{ dbt.type_timestamp() }}
  {%- elif kind == 'date' -%} date
  {%- else -%} {{ exceptions.raise_compiler_error("unknown column kind: " ~ kind) }}
  {%- endif -%}
{%- endmacro %}


{% macro pipedrive_typed(name, kind, loaded) -%}
  {%- if name not in loaded -%}
    cast(null as {{ pipedrive_type(kind) }})
  {%- elif kind == 'date' -%}
    {#- PostgreSQL loads a date, DuckDB its text; an empty text is no date. -#}
    cast(nullif(cast({{ adapter.quote(name) }} as {{ dbt.type_string() }}), '') as date)
  {%- else -%}
    cast({{ adapter.quote(name) }} as {{ pipedrive_type(kind) }})
  {%- endif -%}
{%- endmacro %}


{#- The table of an optional stream (one the tap does not load by default), or none. -#}
{% macro pipedrive_optional_source(table) -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(load_relation(source('pipedrive', table))) }}
{%- endmacro %}
