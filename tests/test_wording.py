from vessel_studio.wording import shown_names


def test_shown_names_names_the_first_and_counts_the_rest():
    assert shown_names([]) == ""
    assert shown_names(["a", "b", "c"]) == "a, b, c"
    assert shown_names(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert shown_names(iter(["a", "b"]), 1) == "a and 1 more"
