with persons as (
{{ pipedrive_staging('persons', {
    'id': 'id',
    'name': 'text',
    'first_name': 'text',
    'last_name': 'text',
    'org_id': 'id',
    'owner_id': 'id',
    'job_title': 'text',
    'birthday': 'text',
    'notes': 'text',
    'picture_id': 'id',
    'visible_to': 'number',
    'is_deleted': 'boolean',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
)

select
    persons.*,
    {{ pipedrive_primary_email('emails') }} as primary_email
from persons
