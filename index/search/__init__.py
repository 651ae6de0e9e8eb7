"""From a question to ranked passages: the searcher (fusion of the dense and keyword legs),
pinyin names, navigation text and references to documents and their numbered units.
"""
