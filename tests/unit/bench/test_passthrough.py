import quickfix as fix

from bench.passthrough import ORDER_TAGS, REPORT_TAGS, build, copy_fields


def _message(body: str) -> fix.Message:
    return fix.Message(f"8=FIX.4.4\x019=0\x0135=D\x01{body}10=000\x01", False)


def test_an_order_is_copied_with_its_set_fields_in_order() -> None:
    order = _message("11=B1-7\x0121=1\x0155=AAPL\x0154=1\x0160=20261202-18:00:00.000\x0138=1\x0140=2\x01"
                     "44=175.00\x0159=0\x01")
    body = copy_fields(order, ORDER_TAGS)
    assert body == ("11=B1-7\x0121=1\x0155=AAPL\x0154=1\x0160=20261202-18:00:00.000\x0138=1\x0140=2\x01"
                    "44=175.00\x0159=0\x01")
    sent = build("D", body)
    assert sent.getHeader().getField(35) == "D"
    assert sent.getField(11) == "B1-7"


def test_a_report_keeps_what_the_load_client_reads() -> None:
    report = _message("37=9\x0111=B1-7\x0117=E1\x01150=8\x0139=8\x0155=AAPL\x0154=1\x01151=0\x0114=0\x01"
                      "6=0\x0158=no\x01")
    copied = build("8", copy_fields(report, REPORT_TAGS))
    assert (copied.getField(11), copied.getField(39), copied.getField(58)) == ("B1-7", "8", "no")
    assert not copied.isSetField(41)
