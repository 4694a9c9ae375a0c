"""WHMCS's billing actions: not served, and said so in the access log.

The gateway covers support and client actions.  A billing action (GetInvoices,
AddOrder, ...) answers exactly what WHMCS answers for an action it does not know,
``Command Not Found``, because clients may match that text; the access log line
carries ``"hint": "billing actions are not served"`` so an operator can tell the
two apart.
"""

from __future__ import annotations

BILLING_HINT = "billing actions are not served"

# WHMCS API actions of the Billing, Orders, Products, Services, Domains and Affiliates groups
BILLING_ACTIONS = frozenset(
    a.casefold()
    for a in [
        "AcceptOrder",
        "AcceptQuote",
        "AddBillableItem",
        "AddCredit",
        "AddInvoicePayment",
        "AddOrder",
        "AddPayMethod",
        "AddTransaction",
        "ApplyCredit",
        "CancelOrder",
        "CapturePayment",
        "CreateInvoice",
        "CreateQuote",
        "DeleteOrder",
        "DeletePayMethod",
        "DeleteQuote",
        "FraudOrder",
        "GenInvoices",
        "GetCredits",
        "GetInvoice",
        "GetInvoices",
        "GetOrders",
        "GetOrderStatuses",
        "GetPayMethods",
        "GetPaymentMethods",
        "GetProducts",
        "GetPromotions",
        "GetQuotes",
        "GetTransactions",
        "PendingOrder",
        "SendQuote",
        "UpdateInvoice",
        "UpdatePayMethod",
        "UpdateQuote",
        "UpdateTransaction",
        "GetClientsProducts",
        "GetClientsDomains",
        "GetClientsAddons",
        "UpdateClientProduct",
        "UpgradeProduct",
        "ModuleCreate",
        "ModuleSuspend",
        "ModuleUnsuspend",
        "ModuleTerminate",
        "ModuleChangePackage",
        "ModuleChangePw",
        "DomainRegister",
        "DomainRenew",
        "DomainTransfer",
        "DomainWhois",
        "GetTLDPricing",
        "AffiliateActivate",
        "GetAffiliates",
        "GetCancelledPackages",
        "AddCancelRequest",
    ]
)


def is_billing_action(action: str) -> bool:
    """``GetInvoices``, ``getinvoices`` or Keliweb's ``get-invoices``."""
    return action.replace("-", "").replace("_", "").casefold() in BILLING_ACTIONS
