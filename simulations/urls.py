app_name = "simulations"

urlpatterns: list = []
