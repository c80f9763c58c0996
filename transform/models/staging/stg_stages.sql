{{ pipedrive_staging('stages', {
    'id': 'id',
    'name': 'text',
    'pipeline_id': 'id',
    'order_nr': 'id',
    'deal_probability': 'number',
    'is_deal_rot_enabled': 'boolean',
    'days_to_rotten': 'number',
    'is_deleted': 'boolean',
    'add_time': 'timestamp',
    'update_time': 'timestamp',
}) }}
