from vessel_studio.wording import shown_names


def test_shown_names_names_the_first_and_counts_the_rest():
    assert shown_names([]) == ""
    assert shown_names(["a", "b", "c"]) == "a, b, c"
    assert shown_names(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert shown_names(iter(["a", "b"]), 1) == "a and 1 more"


def test_byte_size_and_given_up_work():
    from vessel_studio.wording import byte_size, given_up_work

    assert [byte_size(n) for n in (0, 999, 1000, 3_000_000, 2.5e12)] == [
        "0 bytes", "999 bytes", "1.0 kB", "3.0 MB", "2500.0 GB"]
    assert given_up_work("/p/work", deleted=True, freed=3_000_000) == "its work in /p/work was deleted (3.0 MB freed)"
    assert given_up_work("/p/work", deleted=False, freed=0) == (
        "its work stays in /p/work until the next run starts afresh")
