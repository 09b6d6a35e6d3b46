# Stand-in for AWS's Lambda Python base image (the template's runtime): the runtime interface client and a bootstrap at
# /var/runtime that imports with Lambda's sys.path order. SAM adds its runtime interface emulator on top.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
COPY runtime /var/runtime
COPY lambda-entrypoint.sh /lambda-entrypoint.sh
ENV LAMBDA_TASK_ROOT=/var/task \
    LAMBDA_RUNTIME_DIR=/var/runtime \
    LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib \
    TZ=:/etc/localtime
RUN mkdir -p /var/task /opt && chmod 755 /var/runtime/bootstrap /lambda-entrypoint.sh
WORKDIR /var/task
ENTRYPOINT ["/lambda-entrypoint.sh"]
