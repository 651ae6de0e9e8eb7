from docqa.ingest.pipeline import load_corpus

LAW = "# 中华人民共和国示例法\n\n## 第一章 总则\n\n第一条 {rule}\n"


def test_versions_of_one_title_are_told_apart_by_date(tmp_path):
    (tmp_path / "示例法(2018-10-26).md").write_text(LAW.format(rule="注册资本实行认缴制。"), encoding="utf-8")
    (tmp_path / "示例法(2023-12-29).md").write_text(LAW.format(rule="注册资本五年内缴足。"), encoding="utf-8")
    (tmp_path / "other.md").write_text("# 另一部法\n\n2001年3月1日第九届全国人民代表大会通过\n\n第一条 本法施行。\n",
                                       encoding="utf-8")
    corpus = load_corpus([tmp_path])
    titles = {d.source: (d.title, d.metadata.get("version")) for d in corpus.documents}
    assert titles == {
        "示例法(2018-10-26).md": ("中华人民共和国示例法（2018-10-26）", "2018-10-26"),
        "示例法(2023-12-29).md": ("中华人民共和国示例法（2023-12-29）", "2023-12-29"),
        "other.md": ("另一部法", "2001-03-01"),  # one version: its title stays as written
    }
    assert {p.title for p in corpus.passages if "认缴" in p.text} == {"中华人民共和国示例法（2018-10-26）"}
