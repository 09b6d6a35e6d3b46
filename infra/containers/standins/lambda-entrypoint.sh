#!/bin/sh
# As AWS's image: under the emulator when one is mounted, else straight into the runtime's bootstrap.
if [ -x /var/rapid/aws-lambda-rie ]; then
  exec /var/rapid/aws-lambda-rie /var/runtime/bootstrap "$@"
fi
exec /var/runtime/bootstrap "$@"
