{{ pipedrive_staging('deal_fields', {
    'field_code': 'text',
    'field_name': 'text',
    'field_type': 'text',
    'description': 'text',
    'is_custom_field': 'boolean',
    'is_optional_response_field': 'boolean',
}) }}
