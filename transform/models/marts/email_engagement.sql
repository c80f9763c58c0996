{#-
  Per person and organization: the emails logged as done activities of type email (of persons
  not deleted), among them those target-pipedrive wrote (their note carries its
  "<p>Email id: ...</p>" marker), the replies (a subject that starts with one of
  var('reply_prefixes'): "Re:" and its kin), and the first and last contact. With
  var('email_writeback_only') true only target-pipedrive's count. target-pipedrive's person
  fields (threads, average response hours) come along when loaded.
-#}
{%- set person_columns = [] -%}
{%- if execute -%}
  {%- for column in adapter.get_columns_in_relation(ref('stg_persons')) -%}
    {%- do person_columns.append(column.name | lower) -%}
  {%- endfor -%}
{%- endif -%}
{%- set thread_count = var('email_thread_count_column', 'email_thread_count') -%}
{%- set response_hours = var('avg_response_hours_column', 'avg_email_response_hours') -%}

with emails as (
    select
        activities.id as activity_id,
        activities.person_id,
        coalesce(activity_orgs.id, person_orgs.id) as org_id,
        activities.deal_id,
        activities.lead_id,
        activities.due_at as contact_at,
        coalesce(activities.note like '%<p>Email id: %', false) as written_back,
        (
            {%- for prefix in var('reply_prefixes', ['re:']) %}
            lower(ltrim(coalesce(activities.subject, ''))) like '{{ prefix }}%'
            {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        ) as is_reply
    from {{ ref('stg_activities') }} as activities
    -- Live persons and organizations only (a deleted one's activities may stay behind).
    inner join {{ ref('stg_persons') }} as persons on persons.id = activities.person_id
    left join {{ ref('stg_organizations') }} as activity_orgs
        on activity_orgs.id = activities.org_id
    left join {{ ref('stg_organizations') }} as person_orgs on person_orgs.id = persons.org_id
    where activities.type = 'email'
        and activities.done
),

counted as (
    select * from emails
    {%- if var('email_writeback_only', false) %}
    where written_back
    {%- endif %}
),

engagement as (
    select
        person_id,
        org_id,
        count(*) as messages,
        sum(case when is_reply then 1 else 0 end) as replies,
        sum(case when written_back then 1 else 0 end) as messages_written_back,
        count(distinct deal_id) as deals,
        count(distinct lead_id) as leads,
        min(contact_at) as first_contact_at,
        max(contact_at) as last_contact_at
    from counted
    group by person_id, org_id
)

select
    cast(engagement.person_id as {{ dbt.type_string() }})
        || '-' || coalesce(cast(engagement.org_id as {{ dbt.type_string() }}), 'none')
        as email_engagement_id,
    engagement.person_id,
    persons.name as person_name,
    persons.primary_email as person_email,
    engagement.org_id,
    organizations.name as organization_name,
    engagement.messages,
    engagement.replies,
    engagement.messages_written_back,
    engagement.deals,
    engagement.leads,
    engagement.first_contact_at,
    engagement.last_contact_at
    {%- if thread_count in person_columns %},
    cast(persons.{{ adapter.quote(thread_count) }} as {{ pipedrive_double() }}) as email_threads
    {%- endif %}
    {%- if response_hours in person_columns %},
    cast(persons.{{ adapter.quote(response_hours) }} as {{ pipedrive_double() }})
        as avg_response_hours
    {%- endif %}
from engagement
left join {{ ref('stg_persons') }} as persons on persons.id = engagement.person_id
left join {{ ref('stg_organizations') }} as organizations
    on organizations.id = engagement.org_id
