{#-
  Days from a deal's add_time to its win or loss, per pipeline, month of the close and outcome.
-#}
with closed as (
    select
        id as deal_id,
        pipeline_id,
        status as outcome,
        add_time,
        case
            when status = 'won' then coalesce(won_time, close_time)
            else coalesce(lost_time, close_time)
        end as closed_at
    from {{ ref('stg_deals') }}
    where status in ('won', 'lost')
),

timed as (
    select
        closed.*,
        cast({{ dbt.date_trunc('month', 'closed_at') }} as date) as closed_month,
        case
            when closed_at < add_time then cast(0 as {{ pipedrive_double() }})
            else {{ pipedrive_days_between('add_time', 'closed_at') }}
        end as days_to_close
    from closed
    where closed_at is not null and add_time is not null
)

select
    cast(timed.pipeline_id as {{ dbt.type_string() }})
        || '-' || cast(timed.closed_month as {{ dbt.type_string() }})
        || '-' || timed.outcome as deal_velocity_id,
    timed.pipeline_id,
    pipelines.name as pipeline_name,
    timed.closed_month,
    timed.outcome,
    count(*) as deals,
    avg(timed.days_to_close) as avg_days_to_close,
    {{ pipedrive_median('timed.days_to_close') }} as median_days_to_close,
    min(timed.days_to_close) as min_days_to_close,
    max(timed.days_to_close) as max_days_to_close
from timed
left join {{ ref('stg_pipelines') }} as pipelines on pipelines.id = timed.pipeline_id
group by timed.pipeline_id, pipelines.name, timed.closed_month, timed.outcome
