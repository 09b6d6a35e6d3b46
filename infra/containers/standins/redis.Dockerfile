# Stand-in for redis:7.2-alpine: Debian's redis-server (7.0), installed into the base by debootstrap.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
EXPOSE 6379
CMD ["redis-server"]
