"""The backend package; PROJECT_NAME is the name the project was generated with (API title, emails)."""

PROJECT_NAME = "{{ cookiecutter.project_name | py }}"
