"""The watcher in a browser: `cockpit watch SESSION --web`.

textual-serve starts one `cockpit watch SESSION` process per browser connection; what
this package adds is who may connect (`access`) and a server that says where to connect
and ends its watchers when it stops (`gallery`).
"""
