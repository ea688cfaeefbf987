from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("batches/<int:pk>/file/", views.batch_file, name="batch-file"),
    path("declarations/<int:pk>/file/", views.declaration_file, name="declaration-file"),
    path("refund-exports/<int:pk>/file/", views.refund_file, name="refund-file"),
    path("receipts/", views.receipts, name="receipts"),
]
