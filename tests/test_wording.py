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


def test_the_commands_hints_name_a_folder_as_one_shell_word(tmp_path, capsys):
    """Session 49 QA: ``sample-data "échantillon 眼底"`` ended "open it with: vessel-studio gui échantillon 眼底", which
    pasted into a shell gave the command two folders ("unrecognized arguments"); so did the hints naming a project in
    "Université de Genève/Müller project" (``rounds ... --prune``, ``--restore``, ``segment --model``). The folder is
    one word of the command now, quoted where it must be."""
    import shlex

    from vessel_studio.cli import main
    from vessel_studio.wording import shell_word

    folder = tmp_path / "Université de Genève" / "échantillon 眼底 l'œil"
    assert shlex.split(f"vessel-studio gui {shell_word(folder)}") == ["vessel-studio", "gui", str(folder)]
    assert shell_word("/data/proj-1") == "/data/proj-1"  # a plain path stays as it is
    assert main(["sample-data", str(folder), "-n", "1", "--size", "64"]) == 0
    hint = capsys.readouterr().out.strip().splitlines()[-1]
    assert shlex.split(hint.removeprefix("open it with: ")) == ["vessel-studio", "gui", str(folder)]
