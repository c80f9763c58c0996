{#- Days from `start` to `end` (timestamps), with fractions. -#}
{% macro pipedrive_days_between(start, end) -%}
  {{ return(adapter.dispatch('pipedrive_days_between', 'pipedrive')(start, end)) }}
{%- endmacro %}

{% macro default__pipedrive_days_between(start, end) -%}
  cast({{ dbt.datediff(start, end, 'second') }} as {{ pipedrive_double() }}) / 86400
{%- endmacro %}

{% macro postgres__pipedrive_days_between(start, end) -%}
  cast(extract(epoch from (({{ end }}) - ({{ start }}))) as {{ pipedrive_double() }}) / 86400
{%- endmacro %}

{% macro duckdb__pipedrive_days_between(start, end) -%}
  cast(date_diff('millisecond', {{ start }}, {{ end }}) as {{ pipedrive_double() }}) / 86400000
{%- endmacro %}


{#- The median of `expression` (interpolated between the middle two). -#}
{% macro pipedrive_median(expression) -%}
  {{ return(adapter.dispatch('pipedrive_median', 'pipedrive')(expression)) }}
{%- endmacro %}

{% macro default__pipedrive_median(expression) -%}
  percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{% macro duckdb__pipedrive_median(expression) -%}
  quantile_cont({{ expression }}, 0.5)
{%- endmacro %}


{#- The primary address of a Pipedrive list of emails ([{value, primary, label}]), else the
    first; null for an empty list. -#}
{% macro pipedrive_primary_email(column) -%}
  {{ return(adapter.dispatch('pipedrive_primary_email', 'pipedrive')(column)) }}
{%- endmacro %}

{% macro postgres__pipedrive_primary_email(column) -%}
  (
    select email ->> 'value'
    from unnest({{ column }}) with ordinality as emails (email, position)
    order by coalesce((email ->> 'primary')::boolean, false) desc, position
    limit 1
  )
{%- endmacro %}

{% macro duckdb__pipedrive_primary_email(column) -%}
  coalesce(
    json_extract_string(
      list_filter(
        cast(json({{ column }}) as json[]),
        email -> coalesce(cast(json_extract(email, '$.primary') as boolean), false)
      )[1],
      '$.value'
    ),
    json_extract_string(json({{ column }}), '$[0].value')
  )
{%- endmacro %}


{#- A double precision float (dbt's type_float is DuckDB's 4-byte FLOAT). -#}
{% macro pipedrive_double() -%}
  {{ return(adapter.dispatch('pipedrive_double', 'pipedrive')()) }}
{%- endmacro %}

{% macro default__pipedrive_double() -%}
  {{ dbt.type_float() }}
{%- endmacro %}

{% macro duckdb__pipedrive_double() -%}
  double
{%- endmacro %}
