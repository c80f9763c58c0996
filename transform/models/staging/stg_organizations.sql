{{ pipedrive_staging('organizations', {
    'id': 'id',
    'name': 'text',
    'owner_id': 'id',
    'website': 'text',
    'linkedin': 'text',
    'industry': 'number',
    'annual_revenue': 'number',
    'employee_count': 'number',
    'visible_to': 'number',
    'is_deleted': 'boolean',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
