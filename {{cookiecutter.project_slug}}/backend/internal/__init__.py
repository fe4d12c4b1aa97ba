"""{{ cookiecutter.project_name }} backend."""

PROJECT_NAME = "{{ cookiecutter.project_name }}"
