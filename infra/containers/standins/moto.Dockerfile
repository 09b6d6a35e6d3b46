# Stand-in for DynamoDB Local and ElasticMQ: the moto server (the same moto the tests use), on the port given.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
COPY packages /var/moto
ENV PYTHONPATH=/var/moto
ENTRYPOINT ["python3", "-m", "moto.server", "-H", "0.0.0.0"]
CMD ["-p", "5000"]
