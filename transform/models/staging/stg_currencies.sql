{{ pipedrive_staging('currencies', {
    'id': 'id',
    'code': 'text',
    'name': 'text',
    'symbol': 'text',
    'decimal_points': 'number',
    'is_custom_flag': 'boolean',
    'active_flag': 'boolean',
}) }}
