/*
 * The one clock every process measures intervals with: CLOCK_MONOTONIC
 * in milliseconds (timeouts, deadlines, rates).
 */
#ifndef IPC_CLOCK_H
#define IPC_CLOCK_H

#include <stdint.h>

int64_t	 clock_ms(void);

#endif
