"""Sales: leads, opportunities, the pipeline and its forecast.

The public face for addons that depend on ``crm_sales``: the models below and the functions
of ``addons.crm_sales.services``. Addons that only react to sales events (an opportunity won,
a lead converted) implement the hooks declared in ``addons.crm_sales.hookspecs`` instead.
"""

from addons.crm_sales.models import Lead, Opportunity, SalesPipelineStage, StageHistory

__all__ = ["Lead", "Opportunity", "SalesPipelineStage", "StageHistory"]
