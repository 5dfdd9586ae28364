/* The engine's system call policy (engine/sandbox.c). */
#ifndef ENGINE_ENGINE_SANDBOX_H
#define ENGINE_ENGINE_SANDBOX_H

/* Loads the filter; fatal on failure. */
void	 engine_sandbox(void);

#endif
