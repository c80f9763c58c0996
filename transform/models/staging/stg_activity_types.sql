{{ pipedrive_staging('activity_types', {
    'id': 'id',
    'name': 'text',
    'key_string': 'text',
    'icon_key': 'text',
    'color': 'text',
    'order_nr': 'id',
    'is_custom_flag': 'boolean',
    'active_flag': 'boolean',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
