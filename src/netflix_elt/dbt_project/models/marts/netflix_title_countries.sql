{{ netflix_bridge('country') }}
