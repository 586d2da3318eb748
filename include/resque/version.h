/* The version of resque and of its formats. */
#ifndef RESQUE_VERSION_H
#define RESQUE_VERSION_H

#define RQ_VERSION "0.1.0"

#endif
