"""The Python back end: IR → the source of a standalone proxy module.

`emit` allocates names and turns values into safe Python expressions;
`handlers`, `proxy` and `matchers` map IR nodes to runtime constructor calls
and inline checks; `routes` compiles route lists into straight-line async
functions and dispatch tables; `module` renders the template, checks the
result compiles, and formats it with black.
"""
