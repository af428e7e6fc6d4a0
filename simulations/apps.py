from django.apps import AppConfig


class SimulationsConfig(AppConfig):
    name = "simulations"
    verbose_name = "Simulations"

    def ready(self) -> None:
        from simulations import checks  # noqa: F401  (registers the system checks)
