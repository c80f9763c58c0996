{{ pipedrive_staging('pipelines', {
    'id': 'id',
    'name': 'text',
    'order_nr': 'id',
    'is_deal_probability_enabled': 'boolean',
    'is_deleted': 'boolean',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
