"""Organisations: legal forms split off, trade names and departments kept, keys for matching."""
from __future__ import annotations

import pytest

from kg.normalize.organizations import parse_organization


@pytest.mark.parametrize("written, name, form, extra", [
    ("特定非営利活動法人 くるくるネット", "くるくるネット", "npo", {}),
    ("NPO法人 サンカクシャ", "サンカクシャ", "npo", {}),
    ("ＮＰＯ法人　ＳＫＹ", "ＳＫＹ", "npo", {}),
    ("特定非営利活動法人かみああと", "かみああと", "npo", {}),
    ("認定NPO法人 つどい", "つどい", "certified-npo", {}),
    ("一般社団法人 WATALIS", "WATALIS", "general-association", {}),
    ("一般財団法人 ZERO loneliness", "ZERO loneliness", "general-foundation", {}),
    ("社会福祉法人 おきなわ長寿会", "おきなわ長寿会", "social-welfare-corporation", {}),
    ("鳥取医療生活協同組合 健康まちづくり部", "鳥取医療生活協同組合", "consumer-cooperative",
     {"department": "健康まちづくり部"}),
    ("一般社団法人 Pay for World 屋号「えがおの駄菓子屋」", "Pay for World", "general-association",
     {"trade_name": "えがおの駄菓子屋"}),
    ("札幌メンズ・シェッド ポツケコタン", "札幌メンズ・シェッド ポツケコタン", None, {}),
    ("HAPPY PARK プロジェクト", "HAPPY PARK プロジェクト", None, {}),
    ("こどもと大人の地域活動「たのつく」", "こどもと大人の地域活動「たのつく」", None, {}),
])
def test_legal_forms_and_parts(written, name, form, extra):
    org = parse_organization(written)
    assert (org.name, org.legal_form) == (name, form)
    assert org.written == written.replace("\u3000", " ")
    for key, value in extra.items():
        assert getattr(org, key) == value


def test_same_organisation_written_two_ways_has_one_key():
    a = parse_organization("特定非営利活動法人 じゃんけんぽん")
    b = parse_organization("NPO法人　じゃんけんぽん")
    assert a.key == b.key == "じゃんけんぽん"
    assert parse_organization("NPO法人 SKY").key == parse_organization("ＮＰＯ法人 ＳＫＹ").key
