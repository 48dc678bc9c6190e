def test_project_fixture_has_personas(project, lead, annotator, outsider):
    assert project.role_of(lead) == "lead"
    assert project.role_of(annotator) == "annotator"
    assert project.role_of(outsider) is None
    assert project.active_taxonomy().keys() == {"billing", "bug", "other"}
