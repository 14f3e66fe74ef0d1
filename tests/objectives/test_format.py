import math

from optuna_nas.objectives import format_value


def test_values_print_as_people_read_them():
    assert format_value(0.5800000000000001) == "0.58"
    assert format_value(0.19469999999999998) == "0.1947"
    assert format_value(18594.0) == "18594"
    assert format_value(2.31e6) == "2310000"
    assert format_value(0.123456) == "0.1235"  # a latency in ms
    assert format_value(None) == "-" and format_value(math.nan) == "-"
