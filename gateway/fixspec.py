"""FIX tag numbers and the value maps between FIX codes and domain enums (FIX 4.2, 4.4, and 5.0 SP2
over FIXT.1.1).

FIX 5.0 SP2 takes every code fixgate writes or reads as FIX 4.4 does (ExecType F for a trade, I for a
status, CxlRejReason 99, the OrdStatus, Side, OrdType and TimeInForce values): outside the few checks
for FIX 4.2 and for FIXT.1.1 below, a FIXT.1.1 session is written and read as a FIX 4.4 one."""

from __future__ import annotations

from domain.model import CancelRejectReason, ExecKind, OrderStatus, OrdType, RequestKind, Side, TimeInForce

# Integer tags: getField(int) costs about 1 µs, a typed field object about 32 µs (design notes).
ACCOUNT = 1
AVG_PX = 6
BEGIN_STRING = 8
CL_ORD_ID = 11
COMMISSION = 12
COMM_TYPE = 13
CUM_QTY = 14
EXEC_ID = 17
EXEC_TRANS_TYPE = 20
HANDL_INST = 21
LAST_PX = 31
LAST_QTY = 32
MSG_SEQ_NUM = 34
MSG_TYPE = 35
ORDER_ID = 37
ORDER_QTY = 38
ORD_STATUS = 39
ORD_TYPE = 40
ORIG_CL_ORD_ID = 41
SENDING_TIME = 52
POSS_DUP_FLAG = 43
REF_SEQ_NUM = 45
PRICE = 44
SENDER_COMP_ID = 49
SIDE = 54
SYMBOL = 55
TARGET_COMP_ID = 56
TEXT = 58
TIME_IN_FORCE = 59
TRANSACT_TIME = 60
EX_DESTINATION = 100
POSS_RESEND = 97
CXL_REJ_REASON = 102
EXEC_TYPE = 150
LEAVES_QTY = 151
CXL_REJ_RESPONSE_TO = 434
USERNAME = 553
PASSWORD = 554
MASS_CANCEL_REQUEST_TYPE = 530
MASS_CANCEL_RESPONSE = 531
MASS_CANCEL_REJECT_REASON = 532
TOTAL_AFFECTED_ORDERS = 533
LAST_UPDATE_TIME = 779  # required in a FIX 5.0 SP2 MarketDataSnapshotFullRefresh (35=W)
APPL_VER_ID = 1128  # header: the application version of one message (FIXT.1.1)
DEFAULT_APPL_VER_ID = 1137  # Logon: the version of every message that carries no ApplVerID (FIXT.1.1)
MASS_ACTION_REPORT_ID = 1369  # required in a FIX 5.0 SP2 OrderMassCancelReport (35=r)
ORD_STATUS_REQ_ID = 790
REF_TAG_ID = 371
REF_MSG_TYPE = 372
SESSION_REJECT_REASON = 373
BUSINESS_REJECT_REF_ID = 379
BUSINESS_REJECT_REASON = 380

FIX42 = "FIX.4.2"
FIX44 = "FIX.4.4"
FIXT11 = "FIXT.1.1"  # the session layer of FIX 5.0 SP2: the BeginString of its sessions
FIX50SP2 = "FIX.5.0SP2"  # the one application version fixgate speaks over FIXT.1.1 (DefaultApplVerID)
APPL_VER_FIX50SP2 = "9"  # FIX.5.0SP2 as an ApplVerID (1128) or DefaultApplVerID (1137) value

MSG_LOGON = "A"
MSG_NEW_ORDER_SINGLE = "D"
MSG_ORDER_CANCEL_REQUEST = "F"
MSG_ORDER_CANCEL_REPLACE_REQUEST = "G"
MSG_ORDER_STATUS_REQUEST = "H"
MSG_ORDER_MASS_CANCEL_REQUEST = "q"
MSG_ORDER_MASS_CANCEL_REPORT = "r"
MSG_EXECUTION_REPORT = "8"
MSG_ORDER_CANCEL_REJECT = "9"
MSG_BUSINESS_MESSAGE_REJECT = "j"
MSG_REJECT = "3"
MSG_MARKET_DATA_REQUEST = "V"
ORDER_MSG_TYPES = frozenset({"D", "F", "G"})

# BusinessRejectReason (380)
BRR_OTHER = "0"
BRR_UNSUPPORTED_MESSAGE_TYPE = "3"
BRR_CONDITIONALLY_REQUIRED_FIELD_MISSING = "5"

# SessionRejectReason (373)
SRR_VALUE_INCORRECT = "5"

# SessionRejectReason (373) and BusinessRejectReason (380) as a venue's refusal is told to people.
SESSION_REJECT_REASONS = {
    "0": "invalid tag number", "1": "required tag missing", "2": "tag not defined for this message type",
    "3": "undefined tag", "4": "tag specified without a value",
    "5": "value is incorrect (out of range) for this tag", "6": "incorrect data format for value",
    "7": "decryption problem", "8": "signature problem", "9": "CompID problem",
    "10": "SendingTime accuracy problem", "11": "invalid MsgType", "12": "XML validation error",
    "13": "tag appears more than once", "14": "tag specified out of required order",
    "15": "repeating group fields out of order", "16": "incorrect NumInGroup count for repeating group",
    "17": "non-data value includes field delimiter", "99": "other",
}
BUSINESS_REJECT_REASONS = {
    "0": "other", "1": "unknown ID", "2": "unknown security", "3": "unsupported message type",
    "4": "application not available", "5": "conditionally required field missing", "6": "not authorized",
    "7": "DeliverTo firm not available at this time",
}

SIDE_FROM_FIX = {"1": Side.BUY, "2": Side.SELL}
SIDE_TO_FIX = {v: k for k, v in SIDE_FROM_FIX.items()}

ORD_TYPE_FROM_FIX = {"1": OrdType.MARKET, "2": OrdType.LIMIT}
ORD_TYPE_TO_FIX = {v: k for k, v in ORD_TYPE_FROM_FIX.items()}

TIF_FROM_FIX = {"0": TimeInForce.DAY, "1": TimeInForce.GTC, "3": TimeInForce.IOC, "4": TimeInForce.FOK}
TIF_TO_FIX = {v: k for k, v in TIF_FROM_FIX.items()}

ORD_STATUS_FROM_FIX = {
    "0": OrderStatus.NEW,
    "1": OrderStatus.PARTIALLY_FILLED,
    "2": OrderStatus.FILLED,
    "3": OrderStatus.DONE_FOR_DAY,
    "4": OrderStatus.CANCELED,
    "5": OrderStatus.REPLACED,
    "6": OrderStatus.PENDING_CANCEL,
    "8": OrderStatus.REJECTED,
    "A": OrderStatus.PENDING_NEW,
    "C": OrderStatus.EXPIRED,
    "E": OrderStatus.PENDING_REPLACE,
}
ORD_STATUS_TO_FIX = {v: k for k, v in ORD_STATUS_FROM_FIX.items()}

# ExecType (150). FIX 4.2 reports a fill as 1 (partial) or 2 (fill); FIX 4.4 as F (trade).
EXEC_TYPE_FROM_FIX = {
    "0": ExecKind.NEW,
    "1": ExecKind.TRADE,
    "2": ExecKind.TRADE,
    "F": ExecKind.TRADE,
    "3": ExecKind.DONE_FOR_DAY,
    "4": ExecKind.CANCELED,
    "5": ExecKind.REPLACED,
    "6": ExecKind.PENDING_CANCEL,
    "8": ExecKind.REJECTED,
    "A": ExecKind.PENDING_NEW,
    "C": ExecKind.EXPIRED,
    "E": ExecKind.PENDING_REPLACE,
    "I": ExecKind.ORDER_STATUS,
}
EXEC_TYPE_TO_FIX = {
    ExecKind.NEW: "0",
    ExecKind.DONE_FOR_DAY: "3",
    ExecKind.CANCELED: "4",
    ExecKind.REPLACED: "5",
    ExecKind.PENDING_CANCEL: "6",
    ExecKind.REJECTED: "8",
    ExecKind.PENDING_NEW: "A",
    ExecKind.EXPIRED: "C",
    ExecKind.PENDING_REPLACE: "E",
    ExecKind.ORDER_STATUS: "I",
}


def exec_type_to_fix(kind: ExecKind, status: OrderStatus, begin_string: str) -> str:
    """The ExecType a ``kind`` is written as in ``begin_string``."""
    if kind is ExecKind.TRADE:
        if begin_string == FIX42:
            return "2" if status is OrderStatus.FILLED else "1"
        return "F"
    if kind is ExecKind.ORDER_STATUS and begin_string == FIX42:
        return ORD_STATUS_TO_FIX[status]  # FIX 4.2 status reports carry ExecTransType=3 instead
    return EXEC_TYPE_TO_FIX[kind]


CXL_REJ_RESPONSE_TO_FIX = {RequestKind.CANCEL: "1", RequestKind.REPLACE: "2"}


def cxl_rej_reason_to_fix(reason: CancelRejectReason, begin_string: str) -> str:
    """CxlRejReason (102): FIX 4.2 has no 99 (other); its 2 (broker option) says the same."""
    if reason is CancelRejectReason.OTHER:
        return "2" if begin_string == FIX42 else "99"
    return {CancelRejectReason.TOO_LATE: "0", CancelRejectReason.UNKNOWN_ORDER: "1",
            CancelRejectReason.ALREADY_PENDING: "3"}[reason]


# CommType (13): how Commission (12) is stated. fixgate reads 1-3 (``gateway.translate.commission``)
# and writes 3 only; 4-6 (waived percentages, points per bond or contract) are not money a fill alone
# gives.
COMM_TYPE_PER_UNIT = "1"
COMM_TYPE_PERCENT = "2"
COMM_TYPE_ABSOLUTE = "3"


# MassCancelRequestType (530) / MassCancelResponse (531) that fixgate takes: by symbol, or all orders.
MASS_CANCEL_BY_SYMBOL = "1"
MASS_CANCEL_ALL = "7"
MASS_CANCEL_REJECTED = "0"
MASS_CANCEL_REJECT_INVALID_TYPE = "5"  # MassCancelRejectReason: invalid or unknown request type
MASS_CANCEL_REJECT_OTHER = "99"
