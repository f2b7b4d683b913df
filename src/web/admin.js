// web/admin.js — the admin pages.
