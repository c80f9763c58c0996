{#-
  Per pipeline and stage, in the pipeline's order: the deals that reached the stage (their
  furthest stage in the pipeline is this one or a later one: a deal that skipped a stage has
  passed it), the share of them that reached the next stage, the median days deals stayed in
  it before they left it, and the deals now in it: open, won and lost there.
-#}
with stages as (
    select
        stages.id as stage_id,
        stages.name as stage_name,
        stages.pipeline_id,
        pipelines.name as pipeline_name,
        row_number() over (
            partition by stages.pipeline_id order by stages.order_nr, stages.id
        ) as stage_position
    from {{ ref('stg_stages') }} as stages
    inner join {{ ref('stg_pipelines') }} as pipelines on pipelines.id = stages.pipeline_id
),

history as (
    select * from {{ ref('deal_stage_history') }}
),

furthest as (
    select
        history.deal_id,
        stages.pipeline_id,
        max(stages.stage_position) as furthest_position
    from history
    inner join stages on stages.stage_id = history.stage_id
    group by history.deal_id, stages.pipeline_id
),

reached as (
    select
        stages.stage_id,
        count(furthest.deal_id) as deals_reached
    from stages
    left join furthest
        on furthest.pipeline_id = stages.pipeline_id
        and furthest.furthest_position >= stages.stage_position
    group by stages.stage_id
),

durations as (
    select
        stage_id,
        count(*) as stays_ended,
        {{ pipedrive_median('days_in_stage') }} as median_days_in_stage
    from history
    where left_at is not null
    group by stage_id
),

now_in_stage as (
    select
        stage_id,
        sum(case when status = 'open' then 1 else 0 end) as deals_open,
        sum(case when status = 'won' then 1 else 0 end) as deals_won,
        sum(case when status = 'lost' then 1 else 0 end) as deals_lost
    from {{ ref('stg_deals') }}
    group by stage_id
),

funnel as (
    select
        stages.pipeline_id,
        stages.pipeline_name,
        stages.stage_id,
        stages.stage_name,
        stages.stage_position,
        reached.deals_reached,
        lead(reached.deals_reached) over (
            partition by stages.pipeline_id order by stages.stage_position
        ) as deals_reached_next,
        durations.median_days_in_stage,
        coalesce(durations.stays_ended, 0) as stays_ended,
        coalesce(now_in_stage.deals_open, 0) as deals_open,
        coalesce(now_in_stage.deals_won, 0) as deals_won,
        coalesce(now_in_stage.deals_lost, 0) as deals_lost
    from stages
    inner join reached on reached.stage_id = stages.stage_id
    left join durations on durations.stage_id = stages.stage_id
    left join now_in_stage on now_in_stage.stage_id = stages.stage_id
)

select
    pipeline_id,
    pipeline_name,
    stage_id,
    stage_name,
    stage_position,
    deals_reached,
    case
        when deals_reached_next is not null and deals_reached > 0
            then cast(deals_reached_next as {{ pipedrive_double() }}) / deals_reached
    end as conversion_to_next,
    median_days_in_stage,
    stays_ended,
    deals_open,
    deals_won,
    deals_lost
from funnel
