{#- deal_stage_changes is loaded only when selected (docs/tap.md, "History"): without the table
    this is an empty table of the same columns, and deal_stage_history takes every deal's stage
    from the deals. -#}
{%- if pipedrive_optional_source('deal_stage_changes') is not none %}
{{ pipedrive_staging('deal_stage_changes', {
    'stage_change_id': 'text',
    'deal_id': 'id',
    'pipeline_id': 'id',
    'from_stage_id': 'id',
    'to_stage_id': 'id',
    'time': 'timestamp',
    'actor_user_id': 'id',
}) }}
{%- else %}
select
    cast(null as {{ dbt.type_string() }}) as stage_change_id,
    cast(null as {{ dbt.type_bigint() }}) as deal_id,
    cast(null as {{ dbt.type_bigint() }}) as pipeline_id,
    cast(null as {{ dbt.type_bigint() }}) as from_stage_id,
    cast(null as {{ dbt.type_bigint() }}) as to_stage_id,
    cast(null as {{ dbt.type_timestamp() }}) as {{ adapter.quote('time') }},
    cast(null as {{ dbt.type_bigint() }}) as actor_user_id
where 1 = 0
{%- endif %}
