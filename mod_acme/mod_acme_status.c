/* placeholder: server-status section, acme-status JSON and acme-metrics handlers */
