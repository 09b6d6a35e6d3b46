"""The Streamlit front end's HTTP client: it knows the API only through HTTP, as any client would."""
