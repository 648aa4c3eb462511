"""Reading SavedModels statically: layout (version folders) and saved_model.pb."""
