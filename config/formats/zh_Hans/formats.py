# Amounts of money read in groups of three (1,500.00), as on bank and tax statements; Django's own
# zh_Hans formats leave numbers ungrouped.
from django.conf.locale.zh_Hans.formats import *  # noqa: F403

NUMBER_GROUPING = 3
THOUSAND_SEPARATOR = ","
DECIMAL_SEPARATOR = "."
