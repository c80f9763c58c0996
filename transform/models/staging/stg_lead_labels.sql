{{ pipedrive_staging('lead_labels', {
    'id': 'text',
    'name': 'text',
    'color': 'text',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
