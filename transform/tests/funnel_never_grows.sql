-- Along a pipeline's order no stage is reached by more deals than the stage before it.
select *
from (
    select
        pipeline_id,
        stage_id,
        deals_reached,
        lag(deals_reached) over (
            partition by pipeline_id order by stage_position
        ) as deals_reached_before
    from {{ ref('pipeline_funnel') }}
) as funnel
where deals_reached > deals_reached_before
