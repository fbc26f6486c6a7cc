"""gunicorn's settings for Gatehouse: JSON logs of the same shape as the application's.

gunicorn reads this file from the working directory by itself; the command line (Dockerfile,
docker-compose.yml) keeps only what differs between deployments: bind address and workers.
"""

import os

from index_site.log_format import logging_config

accesslog = "-"
logger_class = "index_site.log_format.GunicornLogger"
logconfig_dict = logging_config(os.environ.get("LOG_LEVEL", "INFO").upper())

# Request-head limits, refused by gunicorn with a 400 before Django sees the request. A request
# line holds a path and query string; 8190 bytes for one header leaves room for a long API token
# in `Authorization` (Basic adds a third) and is gunicorn's largest allowed value.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
