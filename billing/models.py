"""The billing app's models live with the workflow that owns them (`payments/models.py`,
`statements/models.py`, `closing/models.py`, `staff/models.py`); importing them here is how Django
finds them. Their tables keep the app's label (`billing_payment`…). Import a model from its package."""

from billing.closing import models as closing_models
from billing.payments import models as payments_models
from billing.staff import models as staff_models
from billing.statements import models as statements_models

__all__ = ["closing_models", "payments_models", "staff_models", "statements_models"]
