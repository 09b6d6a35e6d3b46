# Stand-in for python:3.13-slim, built offline: the build machine's own CPython of the functions' runtime at
# /var/lang, where AWS's Lambda image keeps it, on a Debian base made by debootstrap.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG PYTHON_VERSION
COPY python /var/lang
# The build machine's certificate authorities, so pip inside reaches PyPI through the same network as the host.
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/var/lang/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LD_LIBRARY_PATH=/var/lang/lib \
    LANG=C.UTF-8 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN python${PYTHON_VERSION} -m ensurepip --default-pip >/dev/null \
    && ln -s python${PYTHON_VERSION} /var/lang/bin/python3 && ln -s python${PYTHON_VERSION} /var/lang/bin/python \
    && ln -sf pip3 /var/lang/bin/pip
CMD ["python3"]
