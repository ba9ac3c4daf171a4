;;; harness.el --- the test's eyes inside a terminal Emacs -*- lexical-binding: t -*-
;;
;; Loaded with -l after the user's init.el (the README's eglot configuration, verbatim). It
;; changes nothing eglot does; it only records, as JSON lines in $RLSP_LOG:
;;   - what eglot offers in the code-action menu (the `completing-read' collection),
;;   - each workspace/executeCommand eglot sends and when its answer arrived (eglot waits for it
;;     synchronously: the time between the two is time the user could not type),
;;   - each server-initiated edit applied, each window/showMessage and $/progress,
;;   - the buffer text whenever the test presses C-\ (a "dump"): a key handled by the command
;;     loop like any other, so its time stamp also says when Emacs handled input.
;; The test drives Emacs with real keys through tmux and reads this log.

(require 'json)
(require 'cl-lib)

(defvar rlsp-test-log (getenv "RLSP_LOG"))
(defvar rlsp-test-file (getenv "RLSP_FILE"))
(defvar rlsp-test-dumps 0)

(defun rlsp-test--write (event &rest fields)
  "Append one JSON line: EVENT, the time, and FIELDS (a plist with keyword keys)."
  (let ((object (list (cons "event" event) (cons "t" (float-time))))
        (coding-system-for-write 'utf-8-unix))
    (while fields
      (push (cons (substring (symbol-name (car fields)) 1) (cadr fields)) object)
      (setq fields (cddr fields)))
    (let ((json-encoding-pretty-print nil))
      (write-region (concat (json-encode (nreverse object)) "\n") nil rlsp-test-log t 'silent))))

(defun rlsp-test--buffer ()
  (and rlsp-test-file (find-buffer-visiting rlsp-test-file)))

(defun rlsp-test-dump ()
  "Record the text of the test file's buffer (bound to C-\\)."
  (interactive)
  (let ((buffer (rlsp-test--buffer)))
    (setq rlsp-test-dumps (1+ rlsp-test-dumps))
    (ignore-errors (rlsp-test-save-events))
    (rlsp-test--write "dump" :n rlsp-test-dumps
                      :text (and buffer (with-current-buffer buffer
                                          (buffer-substring-no-properties (point-min) (point-max))))
                      :point (and buffer (with-current-buffer buffer (point)))
                      :messages (with-current-buffer (messages-buffer)
                                  (buffer-substring-no-properties
                                   (max (point-min) (- (point-max) 3000)) (point-max))))))

;; Single-byte keys only: Emacs 28 on a terminal lost the tail of an escape sequence (<f5> =
;; ESC [ 1 5 ~) that arrived while eglot applied a server edit (lossage: "ESC [ ESC [ 1 5 ~"),
;; so <f5> and M-x (ESC x) are not reliable probes mid-stream. C-\ dumps, C-^ is M-x.
(defun rlsp-test-save-events ()
  "Write eglot's JSON-RPC events buffer next to the log (for a failing test's report)."
  (let ((buffer (rlsp-test--buffer)))
    (when buffer
      (with-current-buffer buffer
        (let ((server (and (fboundp 'eglot-current-server) (eglot-current-server))))
          (when server
            (with-current-buffer (jsonrpc-events-buffer server)
              (let ((coding-system-for-write 'utf-8-unix))
                (write-region nil nil (concat rlsp-test-log ".events") nil 'silent)))))))))

(add-hook 'kill-emacs-hook #'rlsp-test-save-events)

(defvar rlsp-test-job-id nil "The jobId of the last responses-lsp.run eglot sent.")

(defun rlsp-test-job-result ()
  "Ask the server how the last job ended (`responses-lsp.jobResult`) and record the answer."
  (interactive)
  (let ((buffer (rlsp-test--buffer)))
    (with-current-buffer buffer
      (let ((answer (jsonrpc-request (eglot-current-server) :workspace/executeCommand
                                     `(:command "responses-lsp.jobResult"
                                       :arguments [(:jobId ,rlsp-test-job-id)]))))
        (rlsp-test--write "job-result" :job rlsp-test-job-id
                          :state (plist-get answer :state)
                          :outcome (plist-get (plist-get answer :result) :outcome)
                          :message (or (plist-get (plist-get answer :result) :message) ""))))))

(global-set-key (kbd "C-\\") #'rlsp-test-dump)
(global-set-key (kbd "C-^") #'execute-extended-command)
(global-set-key (kbd "C-x j") #'rlsp-test-job-result)

;; the code-action menu: what eglot offers
(advice-add 'completing-read :before
            (lambda (prompt collection &rest _)
              (when (string-match-p "eglot" prompt)
                (rlsp-test--write "menu" :prompt prompt
                                  :titles (vconcat
                                           (mapcar (lambda (c) (if (consp c) (car c) c))
                                                   (if (functionp collection)
                                                       (all-completions "" collection)
                                                     collection)))))))

;; a y-or-n question (eglot asks one per server edit when misconfigured)
(advice-add 'y-or-n-p :before
            (lambda (prompt &rest _) (rlsp-test--write "question" :prompt prompt)))

;; every synchronous request eglot makes (it blocks Emacs until the answer): sent, answered
;; or failed; executeCommand is the one the server must answer at once
(advice-add 'jsonrpc-request :around
            (lambda (orig connection method params &rest args)
              (let ((command (and (eq method :workspace/executeCommand)
                                  (plist-get params :command))))
                (rlsp-test--write "execute" :method (symbol-name method) :command command)
                (condition-case err
                    (let ((result (apply orig connection method params args)))
                      (when (and (equal command "responses-lsp.run") (plist-get result :jobId))
                        (setq rlsp-test-job-id (plist-get result :jobId)))
                      (rlsp-test--write "executed" :method (symbol-name method) :command command
                                        :result (format "%S" result))
                      result)
                  (error (rlsp-test--write "execute-failed" :method (symbol-name method)
                                           :command command :error (format "%S" err))
                         (signal (car err) (cdr err)))))))

(advice-add 'eglot--apply-workspace-edit :after
            (lambda (&rest _) (rlsp-test--write "applied")))

(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (cond ((eq method 'window/showMessage)
                     (rlsp-test--write "message" :text (plist-get params :message)))
                    ((eq method '$/progress)
                     (let ((value (plist-get params :value)))
                       (rlsp-test--write "progress" :kind (plist-get value :kind)
                                         :message (or (plist-get value :message) "")))))))

(add-hook 'eglot-managed-mode-hook
          (lambda ()
            (when (and (eglot-managed-p) (eq (current-buffer) (rlsp-test--buffer)))
              (let ((server (eglot-current-server)))
                (rlsp-test--write "managed"
                                  :pid (process-id (jsonrpc--process server))
                                  :emacs emacs-version)))))

(rlsp-test--write "ready" :emacs emacs-version)

;;; harness.el ends here
