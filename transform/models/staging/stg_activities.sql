with activities as (
{{ pipedrive_staging('activities', {
    'id': 'id',
    'type': 'text',
    'subject': 'text',
    'done': 'boolean',
    'due_date': 'date',
    'due_time': 'text',
    'duration': 'text',
    'deal_id': 'id',
    'lead_id': 'text',
    'person_id': 'id',
    'org_id': 'id',
    'project_id': 'id',
    'owner_id': 'id',
    'creator_user_id': 'id',
    'busy': 'boolean',
    'priority': 'number',
    'note': 'text',
    'public_description': 'text',
    'conference_meeting_client': 'text',
    'conference_meeting_id': 'text',
    'conference_meeting_url': 'text',
    'marked_as_done_time': 'timestamp',
    'is_deleted': 'boolean',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
)

select
    activities.*,
    -- When it is due (Pipedrive's due date and time, UTC); midnight when it has no time.
    due_date + coalesce(cast(nullif(due_time, '') as time), cast('00:00' as time)) as due_at
from activities
